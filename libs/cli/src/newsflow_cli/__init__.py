"""newsflow's command-line tool: post, tail, show and replay articles."""
