from pm.cli.entry import main

main()
