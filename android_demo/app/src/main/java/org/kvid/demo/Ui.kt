package org.kvid.demo

import android.content.Intent
import android.net.Uri
import java.util.Locale
import org.kvid.core.KvidException
import org.kvid.core.Scores

/** Text for the screen, shared by both activities. */
object Ui {
    fun top5(scores: FloatArray, labels: List<String>): String =
        Scores.top(scores, labels, 5).mapIndexed { i, p ->
            String.format(Locale.ROOT, "%d. %-22s %5.1f%%", i + 1, p.label, p.probability * 100.0)
        }.joinToString("\n")

    fun ms(nanos: Long): String = String.format(Locale.ROOT, "%.1f ms", nanos / 1e6)

    /** One line for an error: core's messages as they are, anything else with its type. */
    fun error(e: Throwable): String = when (e) {
        is KvidException -> e.message ?: "error"
        else -> "${e.javaClass.simpleName}: ${e.message}"
    }

    /** The thread counts offered: 1, 2, 4, 6, 8 up to the cores (at least 4). */
    fun threadChoices(): List<Int> {
        val cores = Runtime.getRuntime().availableProcessors()
        return listOf(1, 2, 4, 6, 8).filter { it <= maxOf(cores, 4) }
    }

    fun defaultThreads(choices: List<Int>): Int {
        val cores = Runtime.getRuntime().availableProcessors()
        return choices.lastOrNull { it <= minOf(4, cores) } ?: 1
    }

    /** The files of a share intent (ACTION_SEND / ACTION_SEND_MULTIPLE): its clip data, else EXTRA_STREAM. */
    fun sharedUris(intent: Intent): List<Uri> {
        val out = ArrayList<Uri>()
        val clip = intent.clipData
        if (clip != null) {
            for (i in 0 until clip.itemCount) clip.getItemAt(i).uri?.let { out += it }
        }
        if (out.isEmpty()) {
            @Suppress("DEPRECATION") // the typed getParcelableExtra is API 33+
            when (intent.action) {
                Intent.ACTION_SEND -> (intent.getParcelableExtra<Uri>(Intent.EXTRA_STREAM))?.let { out += it }
                Intent.ACTION_SEND_MULTIPLE -> intent.getParcelableArrayListExtra<Uri>(Intent.EXTRA_STREAM)?.let { out += it }
            }
        }
        return out
    }
}
