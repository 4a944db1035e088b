"""torch.fx traces turned into graphs: ``trace`` walks the nodes, ``layers`` maps modules and
``ops`` maps functions and tensor methods."""
