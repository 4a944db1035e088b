"""CNN Studio: design, analyse, train and export convolutional neural networks."""

__version__ = "0.1.0"
