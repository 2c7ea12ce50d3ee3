"""The network: ResNet-18's layer facts, the traced forward with a shortcut mask, the layer table, the ResNet
family, shortcut options, devices and where the weights come from."""
