"""Four short paragraphs of the course's own writing, on unrelated subjects, for a head census steadier than one text
gives (`attnviz.census.merge`)."""

from __future__ import annotations

PARAGRAPHS: tuple[str, ...] = (
    "The ferry left the harbour an hour late because fog had settled over the bay before dawn. Most passengers "
    "stayed inside with their coffee, but a few children pressed their faces against the wet windows and counted "
    "the gulls that followed the boat. When the island finally appeared, its lighthouse was still blinking, "
    "although the sun had been up for a while.",
    "To bake bread at home you need little more than flour, water, salt and patience. Mix them into a rough dough, "
    "let it rest, and fold it every half hour so that the gluten grows strong. After a slow rise in a cool "
    "kitchen, shape the loaf gently, bake it in a very hot oven, and wait until it has cooled before you cut it.",
    "Our town council voted on Tuesday to close the old library for repairs. The roof has leaked for years, and "
    "several shelves of local newspapers were damaged last winter. Readers will be able to borrow books from a "
    "small room in the school across the street until the work is finished, which the council expects next spring.",
    "A pendulum swings with a period that depends on its length and hardly at all on how far it swings, as long as "
    "the swings stay small. Clockmakers used this for centuries: a longer rod ticks more slowly, and a screw under "
    "the weight lets the owner raise or lower it until the clock keeps time with the sun.",
)
