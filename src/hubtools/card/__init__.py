"""The model and dataset cards, split by job (issue 29). Moved here so far:

    facts.py      the card's verdicts as typed values read from the run's metrics (headline rows, baseline and
                  majority-class verdicts) and the order its metrics are listed in
    warnings.py   what a reader must know before trusting the headline, each with its threshold

Collecting the rest of the facts, rendering, writing and the dataset card are still in `hubtools.cards`.
"""
