"""Clean PyTorch code from a graph: the module (``model``) built from blocks found in the graph
(``tree``, ``blocks``, ``args``, ``forward``, ``layers``, ``text``), and a training script
(``train``) whose maths come from the trainer's own modules."""
