"""The quickstart's sample data: short political comments over five labels and five platforms.

The comments are written by hubtools itself from templates below (no real users), deterministically
for a given seed, so the quickstart needs no download. `configs/quickstart.yaml` points at
`data/quickstart/comments.csv`; `hubtools train` writes it there on first use
(`data.create_sample_if_missing: true`).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

LABELS = ("Argumentative", "Opinion", "Informational", "Expressive", "Neutral")
PLATFORMS = ("twitter", "reddit", "facebook", "youtube", "tiktok")
TOPICS = (
    "the new housing bill", "the carbon tax", "the school funding plan", "the minimum wage increase",
    "the transit budget", "the healthcare reform", "the immigration proposal", "the voting rules change",
    "the police budget", "the farm subsidies", "the student loan plan", "the city council vote",
)

TEMPLATES = {
    "Argumentative": (
        "If {topic} passes, rents will rise, because developers will just pass the costs on. Look at the data.",
        "{Topic} fails on its own numbers: the cost doubles while the benefit stays flat, so it should be rejected.",
        "You claim {topic} helps families, but the evidence shows the opposite, therefore your argument collapses.",
        "Since every study on {topic} finds the same effect, the only logical conclusion is to vote against it.",
        "The reason {topic} won't work is simple: the funding depends on revenue that doesn't exist yet.",
        "Counterpoint: {topic} was tried in two states and both repealed it, which proves it doesn't scale.",
    ),
    "Opinion": (
        "Honestly I think {topic} is a good idea, but that's just my view.",
        "In my opinion {topic} is overrated and I'd rather see something else.",
        "I personally prefer {topic} over the alternatives, it feels right to me.",
        "Not gonna lie, I kind of like {topic}. Seems fine to me.",
        "My take: {topic} is the better of two bad options, I guess.",
        "I feel like {topic} deserves a chance, imo.",
    ),
    "Informational": (
        "{Topic} will be debated on Tuesday at 10am; the full text is on the official site.",
        "Reminder: public comments on {topic} close on March 3. Submit them through the county portal.",
        "According to the committee report, {topic} affects about 2.4 million residents.",
        "The vote on {topic} was 52 to 48. Details are in the published minutes.",
        "Link to the hearing schedule for {topic} is in the description below.",
        "{Topic} takes effect on January 1 and applies to households earning under $60,000.",
    ),
    "Expressive": (
        "OMG I am so furious about {topic}!!! Unbelievable 😡",
        "Wow, {topic} passed?! I'm literally crying with joy right now 😭❤️",
        "Ugh. {topic} again. I'm so tired of all this 🙄",
        "YES!!! {topic} finally happened, best day ever 🎉🎉",
        "I can't even... {topic} just broke my heart 💔",
        "Absolutely disgusted by {topic}. So angry I can't think straight!!",
    ),
    "Neutral": (
        "Anyone watching the stream about {topic} tonight?",
        "Posting the {topic} thread here too, see above.",
        "Thanks for sharing the post on {topic}.",
        "Following this conversation on {topic}.",
        "Same question as the last thread about {topic}, any update?",
        "Saw a video on {topic} earlier, will check it again later.",
    ),
}

# Share of comments written in another label's style but keeping their own label, like the
# disagreements of real (LLM or human) labellers; it keeps the task from being trivially separable.
NOISE = 0.12
FILLERS = ("", "", " Thoughts?", " Just saying.", " Anyway.", " (edited)", " #politics", " Source in thread.")


def generate_sample_with_styles(rows_per_label: int = 80, seed: int = 13) -> list[tuple[dict[str, str], str]]:
    """(row, style) pairs: the style is the label whose template wrote the text; a row is mislabelled
    (the NOISE share) when its style is not its label."""
    rng = random.Random(seed)
    rows = []
    for label in LABELS:
        for _ in range(rows_per_label):
            topic = rng.choice(TOPICS)
            style = rng.choice(LABELS) if rng.random() < NOISE else label
            text = rng.choice(TEMPLATES[style]).format(topic=topic, Topic=topic[0].upper() + topic[1:])
            rows.append(({"text": text + rng.choice(FILLERS), "label": label, "platform": rng.choice(PLATFORMS)}, style))
    rng.shuffle(rows)
    return rows


def generate_sample(rows_per_label: int = 80, seed: int = 13) -> list[dict[str, str]]:
    """Return `rows_per_label` comments per label, shuffled, each with a platform."""
    return [row for row, _ in generate_sample_with_styles(rows_per_label, seed)]


def write_sample_dataset(path: str | Path, rows_per_label: int = 80, seed: int = 13) -> Path:
    """Write the sample CSV (columns text, label, platform) to `path`, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "platform"])
        writer.writeheader()
        writer.writerows(generate_sample(rows_per_label, seed))
    return path
