"""Speech core: batching, endpointing, LocalAgreement, Chinese text normalisation, hotwords.

The pieces here are sans-I/O (values in, values out) except the :class:`~.batcher.Batcher`'s
executor edge, which is the one place that runs a model.
"""
