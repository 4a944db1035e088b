"""The engine's own layer modules (what ``torch.nn`` lacks for a layer type of the catalogue)
and the drawing of the graph's initialisation schemes; ``engine/build.py`` puts them together,
and the code generator copies their source into the files it writes."""
