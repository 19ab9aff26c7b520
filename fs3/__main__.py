from fs3.cli import main

main()
