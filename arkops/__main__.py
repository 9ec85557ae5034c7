from arkops.cli import main

main()
