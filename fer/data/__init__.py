"""Datasets and what turns them into model input.

``datasets`` (FER2013, its cache, ``load_dataset``), ``ferplus`` (FER+ votes and protocol),
``image_folders`` (folder datasets), ``augmentation`` (training augmentation strengths),
``preprocess`` (Keras input layers and their NumPy twin), ``imbalance`` (class-imbalance
strategies), ``eda`` (exploratory statistics), ``lighting`` (whether a face crop is too bright
to read reliably; the pipeline and the session store both ask).
"""
