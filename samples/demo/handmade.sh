# What a developer types by hand inside `docker run -it drift-base:bookworm bash`.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y python3 python3-pip
pip install --break-system-packages requests==2.31.0
mkdir -p /srv/app
cat > /srv/app/settings.ini <<'INI'
[server]
port = 8080
database = mysql://db.internal/app
INI
echo 'export APP_ENV=production' >> /etc/bash.bashrc
rm -f /etc/issue.net
