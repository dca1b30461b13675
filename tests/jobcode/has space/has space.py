print("never registered")
