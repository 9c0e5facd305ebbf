# Corpus Ruby app; tests/corpus/bin/ruby stands in for the real interpreter.
loop { sleep 60 }
