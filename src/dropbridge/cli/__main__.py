from dropbridge.cli import main

main()
