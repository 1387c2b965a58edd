from zoomstream.cli import main

main()
