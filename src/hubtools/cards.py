"""The names `hubtools.publish` and `hubtools.audit` still import from here; the card code is `hubtools.card`.

Kept only while those two modules are being edited on other branches: once they import from `hubtools.card`
(write_model_card, write_dataset_repo; card.benchmark BENCHMARK_FILE; card.write set_dataset_revision;
card.prose card_gaps, dataset_card_gaps; card.model_index CARD_DECIMALS, metric_key), delete this module."""

from hubtools.card import write_dataset_repo, write_model_card
from hubtools.card.model_index import BENCHMARK_FILE, CARD_DECIMALS, metric_key
from hubtools.card.prose import card_gaps, dataset_card_gaps
from hubtools.card.write import set_dataset_revision

__all__ = [
    "BENCHMARK_FILE", "CARD_DECIMALS", "card_gaps", "dataset_card_gaps", "metric_key", "set_dataset_revision",
    "write_dataset_repo", "write_model_card",
]
