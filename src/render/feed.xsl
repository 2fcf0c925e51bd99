<?xml version="1.0" encoding="utf-8"?>
<!--
  relais: shows an RSS 2.0 or Atom 1.0 feed as a readable French page when a browser
  opens it, instead of raw XML. Feed readers ignore this file. XSLT 1.0 only (what
  browsers implement); no script and no external asset, styles inline.
-->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">

  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:template match="/">
    <xsl:variable name="lang">
      <xsl:choose>
        <xsl:when test="rss/channel/language"><xsl:value-of select="rss/channel/language"/></xsl:when>
        <xsl:when test="atom:feed/@xml:lang"><xsl:value-of select="atom:feed/@xml:lang"/></xsl:when>
        <xsl:otherwise>fr</xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="title" select="rss/channel/title | atom:feed/atom:title"/>
    <html lang="{$lang}">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="robots" content="noindex"/>
        <title><xsl:value-of select="$title"/> (flux)</title>
        <style>
          :root { color-scheme: light dark; --accent: #0b5cad; --muted: #5b6470; --line: #d9dde3; --box: #eef4fb; }
          @media (prefers-color-scheme: dark) { :root { --accent: #7db7ff; --muted: #a4adb8; --line: #3a4048; --box: #1d2a38; } }
          body { font: 1.05rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; padding: 1.5rem 1rem 3rem; max-width: 46rem; overflow-wrap: anywhere; }
          a { color: var(--accent); }
          h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.2rem 0 0.4rem; }
          .kind { text-transform: uppercase; letter-spacing: 0.06em; font-size: 0.8rem; color: var(--muted); margin: 0; }
          .about { background: var(--box); border-radius: 0.5rem; padding: 0.8rem 1rem; margin: 1.2rem 0 1.8rem; }
          .about p { margin: 0.3rem 0; }
          code { font-size: 0.92em; word-break: break-all; }
          ol { list-style: none; padding: 0; margin: 0; }
          li { border-top: 1px solid var(--line); padding: 0.8rem 0; }
          li h2 { font-size: 1.1rem; margin: 0 0 0.2rem; }
          .meta { color: var(--muted); font-size: 0.9rem; margin: 0; }
          .summary { margin: 0.3rem 0 0; }
        </style>
      </head>
      <body>
        <xsl:apply-templates select="rss/channel | atom:feed"/>
      </body>
    </html>
  </xsl:template>

  <!-- What to tell someone who opened a feed in a browser. -->
  <xsl:template name="about">
    <xsl:param name="self"/>
    <xsl:param name="page"/>
    <div class="about">
      <p><strong>S'abonner :</strong> cette page est un flux d'actualités. Copiez son adresse
        dans votre lecteur de flux (Thunderbird, Feedly, Inoreader, NetNewsWire, Nextcloud News…)
        pour recevoir les nouvelles publications sans revenir sur le site.</p>
      <xsl:if test="$self != ''">
        <p>Adresse du flux : <code><xsl:value-of select="$self"/></code></p>
      </xsl:if>
      <xsl:if test="$page != ''">
        <p><a href="{$page}">Lire cette chaîne sur le site</a></p>
      </xsl:if>
    </div>
  </xsl:template>

  <xsl:template match="rss/channel">
    <p class="kind">Flux RSS</p>
    <h1><xsl:value-of select="title"/></h1>
    <xsl:if test="description != title">
      <p><xsl:value-of select="description"/></p>
    </xsl:if>
    <xsl:call-template name="about">
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="page" select="link"/>
    </xsl:call-template>
    <xsl:choose>
      <xsl:when test="item">
        <ol>
          <xsl:for-each select="item">
            <li>
              <h2>
                <xsl:choose>
                  <xsl:when test="link"><a href="{link}"><xsl:value-of select="title"/></a></xsl:when>
                  <xsl:otherwise><xsl:value-of select="title"/></xsl:otherwise>
                </xsl:choose>
              </h2>
              <p class="meta">
                <xsl:call-template name="rfc822-fr"><xsl:with-param name="date" select="pubDate"/></xsl:call-template>
                <xsl:if test="source"> · <xsl:value-of select="source"/></xsl:if>
                <xsl:if test="dc:creator"> · <xsl:value-of select="dc:creator"/></xsl:if>
              </p>
            </li>
          </xsl:for-each>
        </ol>
      </xsl:when>
      <xsl:otherwise><p>Aucune publication pour le moment.</p></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="atom:feed">
    <p class="kind">Flux Atom</p>
    <h1><xsl:value-of select="atom:title"/></h1>
    <xsl:if test="atom:subtitle">
      <p><xsl:value-of select="atom:subtitle"/></p>
    </xsl:if>
    <xsl:call-template name="about">
      <xsl:with-param name="self" select="atom:link[@rel='self']/@href"/>
      <xsl:with-param name="page" select="atom:link[@rel='alternate']/@href"/>
    </xsl:call-template>
    <xsl:choose>
      <xsl:when test="atom:entry">
        <ol>
          <xsl:for-each select="atom:entry">
            <li>
              <h2>
                <xsl:choose>
                  <xsl:when test="atom:link[@rel='alternate']">
                    <a href="{atom:link[@rel='alternate'][1]/@href}"><xsl:value-of select="atom:title"/></a>
                  </xsl:when>
                  <xsl:otherwise><xsl:value-of select="atom:title"/></xsl:otherwise>
                </xsl:choose>
              </h2>
              <p class="meta">
                <xsl:choose>
                  <xsl:when test="atom:published">
                    <xsl:call-template name="rfc3339-fr"><xsl:with-param name="date" select="atom:published"/></xsl:call-template>
                  </xsl:when>
                  <xsl:otherwise>
                    <xsl:call-template name="rfc3339-fr"><xsl:with-param name="date" select="atom:updated"/></xsl:call-template>
                  </xsl:otherwise>
                </xsl:choose>
                <xsl:if test="atom:source/atom:title"> · <xsl:value-of select="atom:source/atom:title"/></xsl:if>
              </p>
              <xsl:if test="atom:summary">
                <p class="summary"><xsl:value-of select="atom:summary"/></p>
              </xsl:if>
            </li>
          </xsl:for-each>
        </ol>
      </xsl:when>
      <xsl:otherwise><p>Aucune publication pour le moment.</p></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "Sat, 01 Mar 2025 09:00:00 GMT" → "1 mars 2025" -->
  <xsl:template name="rfc822-fr">
    <xsl:param name="date"/>
    <xsl:variable name="rest" select="normalize-space(substring-after($date, ','))"/>
    <xsl:variable name="day" select="substring-before($rest, ' ')"/>
    <xsl:variable name="rest2" select="substring-after($rest, ' ')"/>
    <xsl:variable name="mon" select="substring-before($rest2, ' ')"/>
    <xsl:variable name="year" select="substring-before(substring-after($rest2, ' '), ' ')"/>
    <xsl:variable name="months" select="'JanFebMarAprMayJunJulAugSepOctNovDec'"/>
    <xsl:variable name="num" select="((string-length(substring-before($months, $mon)) div 3) + 1) * number(string-length($mon) = 3 and contains($months, $mon))"/>
    <xsl:call-template name="date-fr">
      <xsl:with-param name="day" select="number($day)"/>
      <xsl:with-param name="month" select="$num"/>
      <xsl:with-param name="year" select="$year"/>
    </xsl:call-template>
  </xsl:template>

  <!-- "2025-03-01T09:00:00Z" → "1 mars 2025" -->
  <xsl:template name="rfc3339-fr">
    <xsl:param name="date"/>
    <xsl:call-template name="date-fr">
      <xsl:with-param name="day" select="number(substring($date, 9, 2))"/>
      <xsl:with-param name="month" select="number(substring($date, 6, 2))"/>
      <xsl:with-param name="year" select="substring($date, 1, 4)"/>
    </xsl:call-template>
  </xsl:template>

  <xsl:template name="date-fr">
    <xsl:param name="day"/>
    <xsl:param name="month"/>
    <xsl:param name="year"/>
    <xsl:if test="$day = $day and $month &gt;= 1 and $month &lt;= 12">
      <xsl:value-of select="$day"/>
      <xsl:if test="$day = 1">er</xsl:if>
      <xsl:text> </xsl:text>
      <xsl:choose>
        <xsl:when test="$month = 1">janvier</xsl:when>
        <xsl:when test="$month = 2">février</xsl:when>
        <xsl:when test="$month = 3">mars</xsl:when>
        <xsl:when test="$month = 4">avril</xsl:when>
        <xsl:when test="$month = 5">mai</xsl:when>
        <xsl:when test="$month = 6">juin</xsl:when>
        <xsl:when test="$month = 7">juillet</xsl:when>
        <xsl:when test="$month = 8">août</xsl:when>
        <xsl:when test="$month = 9">septembre</xsl:when>
        <xsl:when test="$month = 10">octobre</xsl:when>
        <xsl:when test="$month = 11">novembre</xsl:when>
        <xsl:otherwise>décembre</xsl:otherwise>
      </xsl:choose>
      <xsl:text> </xsl:text>
      <xsl:value-of select="$year"/>
    </xsl:if>
  </xsl:template>
</xsl:stylesheet>
