from loam.cli.main import main

raise SystemExit(main())
