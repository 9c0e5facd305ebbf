from pm.entry import main

main()
