"""The trainers behind ``jiesu train NAME`` (address, classify, emotion): each writes its
artefact with provenance under ``models/trained/``; the product needs only the artefacts."""
