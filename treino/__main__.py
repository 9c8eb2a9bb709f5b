from treino.cli import main

main()
