"""The trainers behind ``jiesu train NAME``: each module has ``add_arguments(parser)`` and
``run(args) -> summary`` and writes its artefact (with provenance) under ``models/trained/``.

* :mod:`.address` — the address CRF and gazetteer;
* :mod:`.classify` — the level-1 category classifier;
* :mod:`.emotion` — the text emotion model.

Training needs ``../shared/data`` and scikit-learn / python-crfsuite; the product needs only the
artefacts.
"""
