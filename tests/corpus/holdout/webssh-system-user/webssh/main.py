import tornado.ioloop
import tornado.web


class IndexHandler(tornado.web.RequestHandler):
    def get(self):
        self.write("webssh stand-in")


def main():
    app = tornado.web.Application([(r"/", IndexHandler)])
    app.listen(8888)
    tornado.ioloop.IOLoop.current().start()
