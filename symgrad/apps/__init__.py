"""Apps: the lecture rebuilt, the learning-rate study, and the data sets they use."""
