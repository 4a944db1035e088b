"""From model to device: int8 quantisation (post-training, and quantisation-aware fine-tuning)
and structured pruning, shared by the command line and Deploy in the window."""
