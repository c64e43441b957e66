"""Data preparation: encodings (one-hot, vocabularies, target checks) and pictures (reading and preparing
digits as MNIST was made). The data sets themselves live in :mod:`glassnet.datasets`.
"""
