"""Wikitext cleaning and page classification."""
from ingest_data import ARTICLE

from pipeline.ingest.readers import DISAMBIGUATION_TEMPLATES, DROPPED_SECTIONS
from pipeline.ingest.wikitext import clean_wikitext, drop_sections, is_disambiguation

LINKS = ("File", "Image", "Category", "Fichier", "Catégorie")


def test_clean_wikitext_keeps_prose_and_headings_drops_markup():
    text = clean_wikitext(ARTICLE, LINKS, DROPPED_SECTIONS)
    assert text.startswith("Lyon est une ville de France.")
    assert "Rhône et de la Saône" in text  # piped link -> its label
    assert "\nHistoire\n" in text and "\nAntiquité\n" in text  # headings kept as lines
    assert "Lugdunum" in text  # italic markup removed, word kept
    for gone in ("Infobox", "Citation", "Source", "thumb", "Vue de Lyon", "Another", "cellule",
                 "Ville de France", "Cities", "References", "Une source", "{{", "[[", "''", "=="):
        assert gone not in text, gone


def test_sections_are_dropped_with_their_subsections_only():
    text = "Intro\n== See also ==\nx\n=== Sub ===\ny\n== History ==\nz\n"
    assert drop_sections(text, ["See also"]) == "Intro\n== History ==\nz\n"


def test_unclosed_italics_do_not_leak_quotes_or_hide_sections():
    text = clean_wikitext("A ''broken\n\n== References ==\n* cite\n", LINKS, DROPPED_SECTIONS)
    assert text == "A broken"


def test_disambiguation_detected_from_templates_in_any_section():
    assert is_disambiguation("'''X''' may be:\n== See also ==\n{{Disambiguation|geo}}", DISAMBIGUATION_TEMPLATES)
    assert is_disambiguation("{{Letter disambiguation}}", DISAMBIGUATION_TEMPLATES)
    assert is_disambiguation("{{homonymie}}", DISAMBIGUATION_TEMPLATES)
    assert not is_disambiguation("{{See also|Word-sense disambiguation}} {{Disambiguation needed}}",
                                 DISAMBIGUATION_TEMPLATES)
