"""A second softmax head on a shipped backbone, blended into the prediction."""
