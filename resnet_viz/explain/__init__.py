"""What the network sees in one image: feature maps, Grad-CAM and other attributions, their sanity checks,
receptive fields."""
