"""Training from the window: settings, the worker, live charts, feature maps, evaluation."""
