"""Training infrastructure the lessons build on: the SGD set-up, the loop
the package's experiments share, accuracy and loss, histories, divergence,
checks of batches, and the live plot. Imports no lesson."""
