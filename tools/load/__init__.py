"""`python -m tools load`: a class of protocol-level sessions through a scripted lecture against real servers."""
