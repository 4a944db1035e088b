"""Using a trained model: its module with the project's weights and its images (``model``),
activations, Grad-CAM and unit regions for the views (``probe``), and a split's predictions
(``predictions``)."""
