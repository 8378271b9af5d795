"""A PASS-THROUGH stand-in for nemo-text-processing, for the GPU report's run of the official code only.

The official package (`indextts2-inference`) normalises text with NeMo's grammars, which need
pynini (a 166 MB wheel that cannot travel to the device machine). bench/gpu_report.py puts this
folder on the official process's path and feeds it only text whose grammar step is the identity
(already normalised: spelled-out words, no digits or symbols to read), and it checks that the
official tokenizer then gives exactly the token ids of our own front end. Everything around the
grammar (punctuation mapping, protected names, pinyin, tech terms) still runs as the official code
has it. Nothing else imports this.
"""
