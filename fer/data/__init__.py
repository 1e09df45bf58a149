"""Datasets and what turns them into model input.

``datasets`` (FER2013, FER+ votes and protocol, the cache), ``image_folders`` (folder datasets),
``augmentation`` (training augmentation strengths), ``preprocess`` (Keras input layers and their
NumPy twin), ``imbalance`` (class-imbalance strategies), ``eda`` (exploratory statistics).
"""
