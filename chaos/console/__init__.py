"""The game-day console: a web page over the runs folder that the whole team follows."""
