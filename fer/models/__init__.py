"""The networks and how they are served.

``zoo`` (architectures by name, batch-norm recalibration), ``inference`` (``load_model``,
``EmotionModel``: Keras or int8 TFLite behind one ``predict``, test-time views, temperatures),
``runners`` (the int8 TFLite and Keras forms a model runs in).
"""
