"""The catalogue of finding codes: the one place a code, its title and its fix are written.

Codes are stable kebab-case names; where frictionless has a code for the same
problem (``type-error``, ``foreign-key`` ...) we use its name. ``docs/error-codes.md``
is generated from this catalogue (``uslatam codes --format markdown``).
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    layer: str
    title: str
    hint: str
    severity: str = ERROR


_CODES = [
    # --- descriptor and schema lint -------------------------------------------------
    Code(
        "package-error",
        "descriptor",
        "The descriptor cannot be read or is not a valid Data Package",
        "Make datapackage.json valid JSON (UTF-8, at most the documented size and depth) with the Data Package properties the message names.",
    ),
    Code(
        "duplicate-json-key",
        "descriptor",
        "A JSON object repeats a key",
        "Remove one of the two entries: JSON readers silently keep only the last.",
    ),
    Code(
        "unsafe-path",
        "descriptor",
        "A path points outside the package or into a hidden folder",
        "Use a relative path inside the package folder, with forward slashes, no '..', no hidden folder and no symlink leading out.",
    ),
    Code(
        "remote-path",
        "descriptor",
        "A path is a URL",
        "Store the file in the package and give its relative path: URLs are never fetched.",
    ),
    Code(
        "remote-reference",
        "descriptor",
        "A profile, $schema, $ref or dialect is a URL",
        "Remove the property or name a standard profile (e.g. tabular-data-package): nothing is ever fetched, so a remote reference cannot be checked.",
    ),
    Code(
        "not-a-regular-file",
        "descriptor",
        "A path names a folder, FIFO, socket or device instead of a regular file",
        "Replace it with a regular file (a FIFO or device is never read: it could block or never end).",
    ),
    Code(
        "unreadable-file",
        "descriptor",
        "A file of the package cannot be read (permission denied or an I/O error)",
        "Make the file readable by the user running uslatam (chmod u+r), or restore it from git.",
    ),
    Code(
        "untrusted-journal",
        "descriptor",
        "A change journal in .uslatam/ was not written by this tool here, so it is never replayed",
        "Nothing was moved. Check the files it names by hand (git status, git diff), then delete the .uslatam folder.",
    ),
    Code(
        "undeclared-file",
        "descriptor",
        "A CSV under data/ or a text under sources/ is named by no resource or source row",
        "Add a resource for the CSV to datapackage.json (or a sources row for the text), or delete the file.",
    ),
    Code(
        "missing-citation",
        "descriptor",
        "The package has no CITATION.cff",
        "Add CITATION.cff (CFF 1.2.0) whose version is the descriptor's, so the data can be cited.",
    ),
    Code(
        "unsafe-pattern",
        "schema",
        "A schema pattern is not a linear-time (RE2) regular expression",
        "Rewrite the pattern without backreferences or lookaround, in RE2 syntax: patterns are matched in linear time, and one RE2 cannot run is refused before any cell is matched.",
    ),
    Code(
        "resource-error",
        "descriptor",
        "A resource entry is incomplete or not a CSV table",
        "Give the resource a name, a path to data/<name>.csv, a schema path to schemas/<name>.json, format csv and encoding utf-8.",
    ),
    Code(
        "schema-error",
        "schema",
        "A Table Schema cannot be read or is not valid",
        "Make the schema valid JSON following the Table Schema profile; the message names the property.",
    ),
    Code(
        "missing-file",
        "descriptor",
        "A file the descriptor names does not exist",
        "Create the file, or correct the path that names it (in datapackage.json, or the package given to the command).",
    ),
    Code(
        "misplaced-constraint",
        "schema",
        "A constraint sits where no validator reads it",
        'Move it into the field\'s "constraints" object (e.g. "constraints": {"pattern": ...}).',
    ),
    Code(
        "field-primary-key",
        "schema",
        "A field declares primaryKey itself",
        'Remove it from the field and list the field in the schema\'s top-level "primaryKey".',
    ),
    Code(
        "key-field-missing",
        "schema",
        "A primary or foreign key names a field or resource that does not exist",
        "Correct the key so that every field it names is a field of the schema and every resource exists.",
    ),
    Code(
        "missing-description",
        "schema",
        "A field, resource or package has no description",
        'Add a "description" saying what the field holds, in the text\'s terms.',
    ),
    Code(
        "missing-example",
        "schema",
        "A field has no example",
        'Add an "example" value that the field\'s constraints accept.',
    ),
    Code(
        "non-snake-case-name",
        "schema",
        "A name is not snake_case",
        "Rename it to lower case words joined by underscores (e.g. date_start), in the schema and the CSV header.",
    ),
    Code(
        "interrupted-change",
        "descriptor",
        "A change to the package was interrupted (a journal or temporary files remain)",
        "Run `uslatam recover` (or any writing command): it finishes a committed change or undoes an uncommitted one.",
    ),
    Code(
        "file-too-large",
        "descriptor",
        "A file is larger than the documented limit",
        "Split the table, or raise the limit with --max-file-bytes if the file is trusted.",
    ),
    Code(
        "too-many-columns",
        "structure",
        "A table has more columns than the documented limit",
        "Check the header: the limit is far above any real table of this package.",
    ),
    # --- structure of the CSV files -------------------------------------------------
    Code(
        "encoding-error",
        "structure",
        "The file is not valid UTF-8",
        "Save the file as UTF-8 (without BOM); the message gives the line and byte offset of the first bad byte.",
    ),
    Code(
        "byte-order-mark", "structure", "The file starts with a byte order mark", "Save the file as UTF-8 without BOM."
    ),
    Code(
        "line-ending-error",
        "structure",
        "The file has CR LF (Windows) or lone CR line ends",
        "Convert line ends to LF; .gitattributes keeps *.csv eol=lf, so check your editor or git's autocrlf setting.",
    ),
    Code(
        "csv-syntax-error",
        "structure",
        "The CSV cannot be parsed at this line",
        'Put a cell that holds a quotation mark in quotation marks and double the mark inside it (""); '
        "close every quoted cell.",
    ),
    Code(
        "missing-final-newline",
        "structure",
        "The file does not end with a line end",
        "End the last line with LF, so that appending a row does not join it to the last one.",
        WARNING,
    ),
    Code("blank-label", "structure", "A header cell is empty", "Give the column the name of its schema field."),
    Code(
        "duplicate-label",
        "structure",
        "Two header cells have the same name",
        "Rename the column to its schema field's name; each name appears once.",
    ),
    Code(
        "incorrect-label",
        "structure",
        "A header cell does not match the schema's field at that position",
        "Write the header exactly as the schema's field names, in the schema's order.",
    ),
    Code(
        "missing-label",
        "structure",
        "The header has fewer columns than the schema",
        "Add the missing columns, named as in the schema.",
    ),
    Code(
        "extra-label",
        "structure",
        "The header has more columns than the schema",
        "Remove the column or add the field to the schema.",
    ),
    Code(
        "extra-cell",
        "structure",
        "A row has more cells than the header",
        "Remove the extra cells, or quote the cell that contains a comma.",
    ),
    Code(
        "missing-cell",
        "structure",
        "A row has fewer cells than the header",
        "Add the missing cells (an empty cell is written as nothing between two commas).",
    ),
    Code("blank-row", "structure", "A row is empty", "Delete the empty line."),
    Code(
        "byte-count",
        "structure",
        "The file's size differs from the descriptor's bytes",
        "If the edit was intended, run `uslatam rehash`; otherwise restore the file (a truncated file still parses).",
    ),
    Code(
        "hash-count",
        "structure",
        "The file's SHA-256 differs from the descriptor's hash",
        "If the edit was intended, run `uslatam rehash`; otherwise restore the file.",
    ),
    Code(
        "cell-too-large",
        "structure",
        "A cell is longer than the documented limit",
        "Shorten the cell; evidence spans should quote a passage, not a whole text.",
    ),
    # --- types, constraints and keys ------------------------------------------------
    Code(
        "type-error",
        "table",
        "A cell does not have the field's type",
        "Write the value in the field's type (integer, number, date YYYY-MM-DD, ...) as the schema says.",
    ),
    Code(
        "constraint-error",
        "table",
        "A cell breaks a constraint of its field",
        "Use a value the constraint allows (required, enum, pattern, minimum, maximum) as the schema says.",
    ),
    Code(
        "unique-error",
        "table",
        "A value of a unique field repeats",
        "Give the row a value not used by another row; IDs are never reused.",
    ),
    Code(
        "primary-key",
        "table",
        "A primary key value repeats an earlier row's, or the row's key cells are all empty",
        "Give the row an unused ID; if it duplicates another row, delete one of them.",
    ),
    Code(
        "foreign-key",
        "table",
        "A reference names a row that does not exist",
        "Use an ID that exists in the referenced table, or add that row first.",
    ),
    Code(
        "row-order",
        "table",
        "A row is out of the table's canonical order (its schema's rowOrder, else its primary key)",
        "Move the row to its place in the order the schema gives (`uslatam add` writes rows in that order),"
        " then `uslatam rehash`.",
        ERROR,
    ),
    # --- evidence --------------------------------------------------------------------
    Code(
        "source-text-missing",
        "evidence",
        "A source's stored text file is missing or unreadable",
        "Store the text at the source's text_path (sources/<source_id>.txt).",
    ),
    Code(
        "source-hash-mismatch",
        "evidence",
        "A stored text's SHA-256 differs from its sources row",
        "Restore the stored text byte-for-byte: every span's offsets depend on it.",
    ),
    Code(
        "source-size-mismatch",
        "evidence",
        "A stored text's size differs from its sources row",
        "Restore the stored text, or correct bytes and code_points if the row is wrong.",
    ),
    Code(
        "span-out-of-range",
        "evidence",
        "A span's offsets are not inside its source text",
        "Give 0 <= start < end <= the text's length in code points; `uslatam locate` computes them.",
    ),
    Code(
        "span-mismatch",
        "evidence",
        "A span's exact words differ from the source text at its offsets",
        'Recompute the offsets from the words with `uslatam locate SOURCE_ID "words"`.',
    ),
    Code(
        "span-context-mismatch",
        "evidence",
        "A span's prefix or suffix differs from the text around it",
        "Copy prefix and suffix from `uslatam locate`: up to 32 code points either side.",
    ),
    Code(
        "span-source-mismatch",
        "evidence",
        "A row's source differs from the source of the span it cites",
        "Cite a span of the row's own source, or correct the row's source_id.",
    ),
    Code(
        "quote-outside-quotation-marks",
        "evidence",
        "A quote's span is not enclosed in quotation marks",
        "Make the span exactly the words between the quotation marks (quote_type pull_quote is exempt).",
    ),
    Code(
        "words-not-in-span",
        "evidence",
        "A value stated as written does not occur in the words of its span",
        "Copy the value exactly from the span's words, or cite the span that holds them (the field's asWrittenIn).",
    ),
    Code(
        "value-text-unparsed",
        "evidence",
        "A number's words are not a numeral",
        'Write the words as the text does ("2.8 million", "222,000", "45%"); a quantifier ("most", "multi-billion") is no measurement: mark it a quantifier and leave the value empty.',
    ),
    Code(
        "entity-not-mentioned",
        "evidence",
        "The row's span does not say who or what the row names",
        "Widen the span to the words that name the entity, or record the mention in mentions (and the antecedent of a pronoun or description).",
    ),
    Code(
        "mention-antecedent-mismatch",
        "evidence",
        "A mention's antecedent is not an earlier mention of the same entity",
        "Point antecedent_mention_id at a mention of the same entity that comes earlier in the same source.",
    ),
    Code(
        "uncovered-text",
        "evidence",
        "Words of a source's body that no row cites and no exclusion covers",
        'Record the fact the words state, or add an exclusion with its reason; a package that records only some facts sets "uslatam": {"coverage": false} in datapackage.json.',
    ),
    Code(
        "recording-in-progress",
        "evidence",
        "A source is marked in_progress: its uncovered passages are counted, not listed",
        "Add the rows (or exclusions) its body still lacks (uslatam coverage lists them), then set recording to complete.",
        WARNING,
    ),
    Code(
        "value-outside-rounding",
        "evidence",
        "A statistic's value does not match its value_text within the rounding the words imply",
        'Set value to the number the words give ("2.8 million" is 2800000).',
    ),
    # --- cross-table consistency ----------------------------------------------------
    Code(
        "entity-type-mismatch",
        "consistency",
        "A reference names an entity of the wrong type",
        "Reference an entity of the type the column needs (a quote's speaker is a person).",
    ),
    Code(
        "speaker-occupancy-mismatch",
        "consistency",
        "A quote's speaker_occupancy_id belongs to another person",
        "Use an occupancy of the quote's speaker.",
    ),
    Code(
        "part-exceeds-whole",
        "consistency",
        "A part is larger than its whole",
        "Check both values: a subset cannot exceed its parent statistic.",
    ),
    Code(
        "part-unit-mismatch",
        "consistency",
        "A part has another unit than its whole",
        "Give the part the unit of its parent statistic.",
    ),
    Code(
        "parent-relation-mismatch",
        "consistency",
        "A parent statistic is given without its relation, or a relation without parent",
        "Fill both parent_statistic_id and relation_to_parent, or neither.",
    ),
    Code(
        "invalid-date",
        "consistency",
        "A date is not a real calendar date",
        "Write a real date as YYYY, YYYY-MM or YYYY-MM-DD.",
    ),
    Code(
        "date-precision-mismatch",
        "consistency",
        "A date's form disagrees with its precision",
        "Write the date to the stated precision (day: YYYY-MM-DD, month: YYYY-MM, year: YYYY, unknown: empty).",
    ),
    Code(
        "date-basis-mismatch",
        "consistency",
        "A date disagrees with its basis",
        "Make the date what the basis says (as_of_publication: the publication date; from_event: the referenced row's date and precision; explicit: the year, month and day its date span's words give) or correct the basis.",
    ),
    Code(
        "id-date-mismatch",
        "consistency",
        "An ID embeds a date the row's date does not start with",
        "An ID says no more than the row: retract it and add the row under an ID without the date, or correct the row's date from its words.",
    ),
    Code(
        "conditional-constraint",
        "consistency",
        "A field is empty where another field's code requires it, or set where it must be empty",
        "Fill or empty the field as its schema's requiredWhen / emptyWhen say (e.g. a quantifier has no value; a date basis of none has no date).",
    ),
    Code(
        "code-not-admitted",
        "consistency",
        "A code is used for an entity of a type its definition does not admit",
        "Use a code whose vocabularies.admits lists the entity's type (a country is no speaker), or correct the entity.",
    ),
    Code("date-end-before-start", "consistency", "An end date is before its start date", "Swap or correct the dates."),
    Code(
        "date-after-publication",
        "consistency",
        "A fact is dated after its source was published",
        "Check the date: a source cannot report what happened after it was published.",
    ),
    Code(
        "unknown-country-code",
        "consistency",
        "A country code is not an ISO 3166-1 alpha-3 code",
        "Use the ISO 3166-1 alpha-3 code (USA, MEX, COL ...).",
    ),
    Code(
        "vocabulary-mismatch",
        "consistency",
        "A field's enum disagrees with its controlled vocabulary",
        "Give every code of the field's enum a row in vocabularies.csv, in the same order, and no other.",
    ),
    Code(
        "version-mismatch",
        "consistency",
        "The versions in datapackage.json, CITATION.cff and CHANGELOG.md disagree",
        "Set the same version in all three (the release command keeps them in step).",
    ),
    Code(
        "source-terms-unlicensed",
        "consistency",
        "A source's reuse terms are in no licence of the descriptor, or a table carrying sources' terms lacks one",
        "Add a licenses entry for the source's terms whose sourceIds names it, to the package and to every table "
        "that carries the other sources' terms (`uslatam add-source` does both).",
    ),
    Code(
        "removed-without-retraction",
        "consistency",
        "A released row is gone without a retraction record",
        "Restore the row (or its key, if a key cell was edited by mistake), or add a row to data/retractions.csv (table, ID, date, reason, replacement).",
    ),
    Code(
        "release-history-missing",
        "consistency",
        "The last release is not in this checkout's history: no check that released rows remain",
        "Fetch the history (git fetch --unshallow; in GitHub Actions, actions/checkout with fetch-depth: 0), "
        "or, from Python, name the release: uslatam.validate(path, against=<its folder or git revision>).",
        WARNING,
    ),
    Code(
        "release-history-required",
        "consistency",
        "History is required (--require-history) and the last release is not in it",
        "Fetch the history (git fetch --unshallow; in GitHub Actions, actions/checkout with fetch-depth: 0), "
        "or, from Python, name the release: uslatam.validate(path, against=<its folder or git revision>).",
    ),
    Code(
        "retracted-id-reused",
        "consistency",
        "A retracted row's ID is in use again",
        "Give the new row a new ID: a retracted ID is never reused.",
    ),
    Code(
        "retraction-error",
        "consistency",
        "A retraction names a table or replacement that does not exist",
        "Name a table of datapackage.json, and a replacement_id that exists in that table (or none).",
    ),
    # --- text hygiene -----------------------------------------------------------------
    # --- input of uslatam add / add-source (not findings of validate) ------------------
    Code(
        "input-error",
        "input",
        "The input file cannot be added as it is",
        "Correct the input at the line given: table and column names as in schemas/, one mapping per row.",
    ),
    Code(
        "evidence-not-found",
        "input",
        "The evidence words are not found once in the source text",
        "Copy the words exactly from the stored text; where they occur more than once add prefix: or occurrence:.",
    ),
    Code(
        "duplicate-source",
        "input",
        "The source text is already registered",
        "Add rows to the existing source instead (its source_id is in the message).",
    ),
    Code(
        "text-not-nfc",
        "text",
        "A cell is not in Unicode NFC",
        "Normalise the cell to NFC: the same name in NFD would pass as a different value.",
    ),
    Code(
        "invisible-character",
        "text",
        "A cell holds a control, zero-width or bidirectional-override character",
        "Remove the character: it hides changes from readers and diffs.",
    ),
    Code(
        "cell-whitespace",
        "text",
        "A cell starts or ends with whitespace (a space, a tab, a line end)",
        "Remove the whitespace around the value (a spreadsheet or a hand edit adds it easily), then "
        "`uslatam rehash`; only fields marked keepsWhitespace keep it.",
    ),
]

CATALOGUE: dict[str, Code] = {code.code: code for code in _CODES}

LAYERS = ("descriptor", "schema", "structure", "table", "evidence", "consistency", "text", "input")


def lookup(code: str) -> Code:
    return CATALOGUE[code]
