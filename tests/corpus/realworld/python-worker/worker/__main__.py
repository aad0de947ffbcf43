import configparser

config = configparser.ConfigParser()
config.read("/etc/worker.ini")
print("worker", dict(config["worker"]))
