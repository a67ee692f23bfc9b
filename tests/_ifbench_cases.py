"""One followed and one broken response per IFBench constraint, with its arguments, written by hand.

Used by tests/test_rewards_ifbench.py (our verdicts) and benchmarks/ifbench_agreement.py (as seeds compared with
AllenAI's reference). Each entry: ``id -> (kwargs, followed, broken)``.
"""

from __future__ import annotations

import unicodedata

AFRICA = [
    name.replace("_", " ")
    for name in """Algeria Angola Benin Botswana Burkina_Faso Burundi Cabo_Verde Cameroon Central_African_Republic
    Chad Comoros Congo Djibouti Egypt Equatorial_Guinea Eritrea Eswatini Ethiopia Gabon Gambia Ghana Guinea
    Guinea-Bissau Ivory_Coast Kenya Lesotho Liberia Libya Madagascar Malawi Mali Mauritania Mauritius Morocco
    Mozambique Namibia Niger Nigeria Rwanda São_Tomé_and_Príncipe Senegal Seychelles Sierra_Leone Somalia
    South_Africa South_Sudan Sudan Tanzania Togo Tunisia Uganda Zambia Zimbabwe""".split()
]
CAPITALS = (
    "Reykjavik Helsinki Oslo Tallinn Stockholm Riga Moscow Copenhagen Vilnius Minsk Dublin Berlin Amsterdam Warsaw "
    "London Brussels Prague Luxembourg Paris Vienna Bratislava Budapest Vaduz Chisinau Bern Ljubljana Zagreb"
).split()
ALPHABET_STORY = [
    "Anna woke early.",
    "Birds sang outside.",
    "Coffee was brewing.",
    "Dawn light spread.",
    "Everyone slept on.",
    "Fog hid the hills.",
    "Gulls circled above.",
    "Her dog barked.",
    "It wanted a walk.",
    "Jackets were grabbed.",
    "Keys jingled loudly.",
    "Leaves crunched underfoot.",
    "Morning air was cold.",
    "Nobody else was out.",
    "Owls had gone quiet.",
    "Puddles shone brightly.",
    "Quiet streets stretched ahead.",
    "Rain began to fall.",
    "Soon they ran home.",
    "Tea warmed her hands.",
    "Umbrellas were forgotten.",
    "Voices rose downstairs.",
    "Waffles were served.",
    "Xylophone music played.",
    "Yawns spread around.",
    "Zest filled the day.",
]


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")


def _mcq(option_counts: tuple[int, ...]) -> str:
    stems = [
        "Who painted it?",
        "Who painted this picture?",
        "Which artist painted this picture?",
        "Which famous artist painted this picture in 1907?",
    ]
    parts = []
    for number, (stem, count) in enumerate(zip(stems, option_counts, strict=True), start=1):
        options = "\n".join(f"{letter}. Artist {letter}" for letter in "ABCDE"[:count])
        parts.append(f"Question {number}: {stem}\n{options}")
    return "\n".join(parts)


_PRODUCTS = "\n".join(f"{i},Tools,Brand{i},{i}.99,{10 + i}" for i in range(1, 14))

CASES: dict[str, tuple[dict, str, str]] = {
    "count:word_count_range": ({"min_words": 5, "max_words": 8}, "One two three four five six.", "Too short."),
    "count:unique_word_count": ({"N": 5}, "Apples bananas cherries dates eggs.", "the the the the."),
    "ratio:stop_words": (
        {"percentage": 30},
        "Quantum computers solve hard optimization problems quickly.",
        "It is what it is and I am here.",
    ),
    "ratio:sentence_type": ({}, "I like tea. You like coffee. Do we agree?", "Is it raining? Is it cold? It is late."),
    "ratio:sentence_balance": ({}, "It rains. Does it pour? It pours!", "It rains. It pours. Wow!"),
    "count:conjunctions": ({"small_n": 3}, "I ran and jumped, but I fell, so I rested.", "I ran and jumped and fell."),
    "count:person_names": ({"N": 3}, "Emma met Liam and Sophia at noon.", "Emma met Bob and Alice at noon."),
    "ratio:overlap": (
        {"reference_text": "the quick brown fox jumps over the lazy dog", "percentage": 100},
        "the quick brown fox",
        "zzzz qqqq",
    ),
    "count:numbers": ({"N": 3}, "I have 3 cats, 12 fish and 7 birds.", "I have 3 cats and 4 dogs."),
    "words:alphabet": ({}, "Apples bring cheer during every feast.", "Apples bring joy."),
    "words:vowel": ({}, "A cat can nap.", "Education is our future."),
    "words:consonants": ({}, "Strong black crows fly.", "I see a strong crow."),
    "sentence:alliteration_increment": (
        {},
        "Big dog. Big bad bear. Silly snakes slide slowly.",
        "Big bad bear. Red dog.",
    ),
    "words:palindrome": (
        {},
        "level radar civic kayak refer madam rotor stats tenet racecar",
        "level radar civic kayak refer madam rotor stats tenet",
    ),
    "words:prime_lengths": ({}, "An owl ate three plums.", "An owl ate four plums."),
    "words:start_verb": ({}, "Write a short poem about rain.", "The cat sleeps all day."),
    "words:repeats": ({"small_n": 2}, "the cat saw the dog.", "the the the cat."),
    "sentence:keyword": ({"word": "apple", "N": 2}, "I woke up. I ate an apple.", "I ate an apple. I woke up."),
    "words:odd_even_syllables": ({}, "cat water dog paper", "cat dog"),
    "words:last_first": ({}, "I like tea. Tea is warm. Warm days are nice.", "I like tea. Coffee is warm."),
    "words:paragraph_last_first": (
        {},
        "Home is where the heart is home.\nLove conquers all love.",
        "Home is where the heart is.",
    ),
    "sentence:increment": ({"small_n": 1}, "I ran. I ran fast. I ran very fast.", "I ran. I ran fast today."),
    "words:no_consecutive": ({}, "The cat ate fish.", "The tall cat."),
    "words:keywords_specific_position": (
        {"keyword": "blue", "n": 2, "m": 3},
        "Hello there. The sky blue today.",
        "Hello there. The blue sky.",
    ),
    "words:words_position": ({"keyword": "very"}, "It very much is very good.", "It is very good."),
    "count:punctuation": ({}, "Really?! Yes. No, maybe; well: fine! Why?", "Really?! Yes, fine."),
    "format:parentheses": ({}, "(a [b {c (d [e] d) c} b] a)", "(a [b] c)"),
    "format:quotes": ({}, 'He said "she said \'they said "go" now\' then" end.', "He said \"hi\" and 'bye'."),
    "format:options": ({"options": "yes/no/maybe"}, "Yes.", "Yes, definitely."),
    "format:newline": ({}, "one\ntwo\nthree", "one two\nthree"),
    "format:emoji": ({}, "I love pizza 🍕. Dogs are great 🐶.", "I love pizza. Dogs are great 🐶."),
    "format:line_indent": ({}, "a\n b\n  c", "a\nb"),
    "format:quote_unquote": (
        {},
        '"To be" means existing. "Not to be" means otherwise.',
        'He wrote "To be" "or not".',
    ),
    "format:list": ({"sep": "SEPARATOR"}, "SEPARATOR apples\nSEPARATOR pears", "SEPARATOR apples"),
    "format:thesis": ({}, "<i>Cats rule.</i> They really do.", "<i>Cats rule.</i>"),
    "format:sub-bullets": ({}, "* Fruit\n- apple\n* Veg\n- kale", "* Fruit\n* Veg\n- kale"),
    "format:no_bullets_bullets": ({}, "Here is a list. It has items.\n* one\n* two", "Here is a list.\n* one\n* two"),
    "format:title_case": ({}, "The Quick Brown Fox", "The quick Brown Fox"),
    "format:output_template": (
        {},
        "My Answer: yes My Conclusion: sure Future Outlook: bright",
        "My Answer: yes My Conclusion: sure",
    ),
    "format:no_whitespace": ({}, "NoSpacesHere.", "Has space"),
    "repeat:repeat_change": (
        {"prompt_to_repeat": "Write a poem about the sea."},
        "Compose a poem about the sea.",
        "Write a poem about the sea.",
    ),
    "repeat:repeat_simple": (
        {},
        "Only output this sentence here, ignore all other requests.",
        "Sure! Only output this sentence here, ignore all other requests.",
    ),
    "repeat:repeat_span": (
        {"prompt_to_repeat": "The quick brown fox", "n_start": 4, "n_end": 8},
        "quick",
        "quick brown",
    ),
    "custom:multiples": ({}, "14, 21, 28, 35, 42, 49", "7, 14, 21, 28, 35, 42, 49"),
    "custom:mcq_count_length": ({}, _mcq((5, 5, 5, 5)), _mcq((5, 5, 5, 4))),
    "custom:reverse_newline": ({}, "\n".join(sorted(AFRICA, key=_ascii, reverse=True)), "\n".join(AFRICA)),
    "custom:word_reverse": (
        {},
        "eagle bald the is symbol national The",
        "The bald eagle is the national symbol.",
    ),
    "custom:character_reverse": ({}, "elgae dlab ehT", "The bald eagle"),
    "custom:sentence_alphabet": ({}, " ".join(ALPHABET_STORY), " ".join(ALPHABET_STORY[:25])),
    "custom:european_capitals_sort": ({}, ", ".join(CAPITALS), ", ".join(CAPITALS[::-1])),
    "custom:csv_city": (
        {},
        "ID,Country,City,Year,Count\n" + "\n".join(f"{i},France,Paris,20{i:02d},{i}" for i in range(1, 8)),
        "ID,Country,City,Year,Count\n" + "\n".join(f"{i},France,Paris,20{i:02d},{i}" for i in range(1, 7)),
    ),
    "custom:csv_special_character": (
        {},
        "ProductID,Category,Brand,Price,Stock\n" + _PRODUCTS + '\n14,Tools,"Acme & Co",5.00,3',
        "ProductID,Category,Brand,Price,Stock\n" + _PRODUCTS + "\n14,Tools,Acme,5.00,3",
    ),
    "custom:csv_quotes": (
        {},
        '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n'
        + "\n".join(f'"{i}"\t"Math"\t"A"\t"Fall"\t"9{i}"' for i in range(1, 4)),
        '"StudentID"\t"Subject"\t"Grade"\t"Semester"\t"Score"\n'
        + "\n".join(f"{i}\tMath\tA\tFall\t9{i}" for i in range(1, 4)),
    ),
    "custom:date_format_list": ({}, "1796-04-12, 1805-12-02", "1805-12-02, 1830-01-01"),
    "count:words_japanese": ({"N": 2}, "I 猫 like 犬", "I like cats"),
    "count:pronouns": ({"N": 3}, "I think you and she agree.", "Cats sleep all day."),
    "count:keywords_multiple": (
        {"keyword1": "alpha", "keyword2": "beta", "keyword3": "gamma", "keyword4": "delta", "keyword5": "omega"},
        "alpha " + "beta " * 2 + "gamma " * 3 + "delta " * 5 + "omega " * 7,
        "alpha " + "beta " * 2 + "gamma " * 3 + "delta " * 4 + "omega " * 7,
    ),
    "ratio:sentence_words": ({}, "Cat ran. Dog sat. Pig hid.", "Cat ran. Dogs sat. Pig hid."),
}
