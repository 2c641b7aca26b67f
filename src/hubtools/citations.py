"""BibTeX of the base models hubtools knows, for the model card's Citation section.

A card cites what its model is built on: the prose file's `citation` when given, else the base model's
paper when the base model is one of these, else no Citation section at all.
"""

from __future__ import annotations

SENTENCE_BERT = """@inproceedings{reimers-2019-sentence-bert,
  title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
  author = "Reimers, Nils and Gurevych, Iryna",
  booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
  month = "11",
  year = "2019",
  publisher = "Association for Computational Linguistics",
  url = "https://arxiv.org/abs/1908.10084",
}"""

BERTWEET = """@inproceedings{bertweet,
  title = "{BERTweet}: A pre-trained language model for {E}nglish Tweets",
  author = "Nguyen, Dat Quoc and Vu, Thanh and Tuan Nguyen, Anh",
  booktitle = "Proceedings of the 2020 Conference on Empirical Methods in Natural Language Processing: System Demonstrations",
  year = "2020",
  pages = "9--14",
  url = "https://aclanthology.org/2020.emnlp-demos.2",
}"""

ROBERTA = """@article{liu2019roberta,
  title = {RoBERTa: A Robustly Optimized BERT Pretraining Approach},
  author = {Yinhan Liu and Myle Ott and Naman Goyal and Jingfei Du and Mandar Joshi and Danqi Chen and
            Omer Levy and Mike Lewis and Luke Zettlemoyer and Veselin Stoyanov},
  journal = {arXiv preprint arXiv:1907.11692},
  year = {2019},
}"""

BERT = """@inproceedings{devlin-etal-2019-bert,
  title = "{BERT}: Pre-training of Deep Bidirectional Transformers for Language Understanding",
  author = "Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton and Toutanova, Kristina",
  booktitle = "Proceedings of the 2019 Conference of the North {A}merican Chapter of the Association for Computational Linguistics",
  year = "2019",
  pages = "4171--4186",
  url = "https://aclanthology.org/N19-1423",
}"""

# (fragment of the lower-cased base model id or folder, BibTeX); the first match wins
KNOWN_BASE_MODELS = (
    ("sentence-transformers/", SENTENCE_BERT),
    ("all-minilm", SENTENCE_BERT),
    ("all_minilm", SENTENCE_BERT),
    ("vinai/bertweet", BERTWEET),
    ("roberta", ROBERTA),
    ("bert-base", BERT),
    ("bert-large", BERT),
)


def base_model_citation(base_model: str) -> str | None:
    """BibTeX of a known base model (`sentence-transformers/...`, `vinai/bertweet-*`, `roberta-*`, `bert-*`), else None."""
    name = base_model.lower()
    return next((bibtex for fragment, bibtex in KNOWN_BASE_MODELS if fragment in name), None)
