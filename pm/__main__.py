from pm.cli import main

main()
