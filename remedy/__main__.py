from remedy.cli import app

app(prog_name="remedy")
