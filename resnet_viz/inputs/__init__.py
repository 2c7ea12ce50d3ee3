"""Everything a user sends, checked before use: images, checkpoints, class searches and URL parameters."""
