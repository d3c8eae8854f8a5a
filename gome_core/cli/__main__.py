from gome_core.cli import main

main()
