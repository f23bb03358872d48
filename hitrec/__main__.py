from hitrec.cli import main

main()
