"""Training: the loop behind ``Sequential.fit``, callbacks (history, early stopping, progress, recorded
statistics), and checkpoints that a run resumes from bit for bit.
"""
