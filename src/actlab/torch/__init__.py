"""PyTorch front-end: autograd registration and ``torch.nn`` modules."""
