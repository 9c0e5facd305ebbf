<?php
// Corpus PHP app; tests/corpus/bin/php stands in for the real interpreter.
while (true) { sleep(60); }
